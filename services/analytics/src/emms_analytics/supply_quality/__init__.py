"""Supply quality of electricity, water, gas and heat (R-4.5.5.1–4), computed when asked from the curve values
of validated readings (``curve_value``) and the limits chosen through the API (migration 0030).

``voltage`` qualification rate per voltage level (from voltage curves and from the terminals' daily statistics)
and three-phase unbalance; ``power_factor`` against per-customer / per-category limits; ``harmonics`` daily
maxima, THD and violations; ``pressure`` abnormal water / gas customers and their share; ``heat`` hydraulic
balance at one instant, supply / return temperature difference, flow and pressure deviation. A point lacking
data is reported "incomplete" with the reason and left out of every aggregate figure.
"""
