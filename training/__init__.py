"""Training: ``swansphere train CONFIG.toml`` runs the task the config names.

- :mod:`~swansphere.training.tasks`: the name -> trainer table (``task = "codec"``, ...);
- :mod:`~swansphere.training.common`: run and optimizer configs, LR schedule, per-step seeds;
- :mod:`~swansphere.training.loop`: the shared step loop (progress bar, validation,
  checkpoints, ``metrics.jsonl``);
- :mod:`~swansphere.training.logs`: ``metrics.csv`` and TensorBoard events files (torch's
  ``SummaryWriter``) and their readers;
- :mod:`~swansphere.training.distributed`: multi-process training (torchrun, DDP);
- :mod:`~swansphere.training.checkpoint`: atomic, resumable checkpoints (safetensors + JSON);
- :mod:`~swansphere.training.codec`: the codec trainer.
"""
