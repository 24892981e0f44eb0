"""The values every answer form shares, whichever surface draws it (the notebook widget, the approval
page; the JupyterLab inbox keeps the same values in ``labextension/src/forms.ts``, checked by a test).
"""

#: maxLength above which a string is entered in a text area.
LONG_TEXT = 200
#: Top-level booleans that mean "approve": a Reject action sets the first one present to false.
REJECT_FIELDS = ("approved", "approve", "accepted", "accept")
