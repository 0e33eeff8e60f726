"""SVAC (Spatial Video-Audio Contrastive) learning: the panoramic video encoder learns to see
the directions that the FOA audio has.

:class:`SVACModel` pairs the ``panorama-video`` conditioner with a direction-aware FOA encoder
and trains both with a symmetric InfoNCE loss whose hard negatives are the clip's own audio
shifted in time, its FOA rotated and its panorama rolled
(:mod:`swansphere.nn.contrastive`). Train it with
``swansphere train`` (``task = "svac"``, :mod:`swansphere.plugins.svac.trainer`); evaluate it with
:mod:`swansphere.plugins.svac.evaluation`; the saved model's ``video_conditioner.toml`` plugs the
trained encoder into a backbone. Torch loads only when the submodules are imported.
"""
