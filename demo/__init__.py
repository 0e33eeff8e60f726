"""The SwanSphere web demo: ``swansphere demo`` serves a local page (Gradio) where one types a
prompt and/or uploads a 360° video and gets the binaural render playing as it streams, the
AmbiX WAV and the 360° MP4 to download, and pictures of the sound field.

It sits on top of the stack and uses only the public library: :mod:`.engine` runs a request
(no Gradio there), :mod:`.app` builds the page, :mod:`.cli` registers the command. Gradio is
the optional extra ``swansphere[demo]`` and is imported only when the demo runs. See
``docs/demo.md``.
"""
