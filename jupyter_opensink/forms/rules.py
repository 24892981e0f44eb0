"""The rules every answer form shares, whichever side draws it (the notebook widget in the kernel, the
approval page on the server; the JupyterLab inbox keeps the same values in ``labextension/src/forms.ts``).

Pure data: importable from both sides without crossing the kernel/server line.
"""

#: maxLength above which a string is entered in a text area.
LONG_TEXT = 200
