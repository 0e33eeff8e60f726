"""Neural building blocks shared by the plugins (``swansphere.nn``).

What more than one plugin uses lives here, below ``plugins/``, so that no plugin imports
another's private names: attention with one mask language on CUDA (xformers) and CPU (SDPA)
(:mod:`.attention`), transformer layers (:mod:`.layers`), the caption encoder, video adapter
and packed text memory (:mod:`.adapters`), the backbones' ``Conditions`` type
(:mod:`.conditions`), flow-matching helpers (:mod:`.flow`), the direction-aware FOA audio
encoder (:mod:`.foa_audio`), contrastive losses with spatial hard negatives
(:mod:`.contrastive`) and their torch-free configs (:mod:`.configs`). Modules are imported by
name; this package imports nothing at import time.
"""
