"""The per-meter VEE engine: pure, over loaded state; the pipeline feeds it and turns its outcome into messages."""
