"""Training: ``swansphere train CONFIG.toml`` runs the task the config names.

- :mod:`~swansphere.training.tasks`: the name -> trainer table (``task = "codec"``, ...);
- :mod:`~swansphere.training.common`: run and optimizer configs, LR schedule, per-step seeds;
- :mod:`~swansphere.training.loop`: the shared step loop (progress bar, validation,
  checkpoints, ``metrics.jsonl``);
- :mod:`~swansphere.training.checkpoint`: atomic, resumable checkpoints (safetensors + JSON);
- :mod:`~swansphere.training.codec`: the codec trainer.
"""
