"""Loss analysis (R-4.5.6): loss models (input / output sets of metering points), generated from the network
topology or edited by hand, with versions; loss and loss rate per model and period from the rollups; abnormal
losses with the members ranked by how much each explains them; completeness per model."""
