"""The PySide6 desktop app: the ONLY package that imports Qt, pyqtgraph or qasync."""
