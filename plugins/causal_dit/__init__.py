"""The causal autoregressive diffusion transformer (Spatial LM + LocEnc + LocDiT)."""
