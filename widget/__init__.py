"""widget/ is shipped inside the relay as the package proxy.widget (pyproject.toml package-dir):
importlib.resources finds widget.js and demo.html there, installed from the wheel or editable."""
