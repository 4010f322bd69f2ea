"""Kivy screens and widgets of the touchscreen kiosk; imported only where a window may be created."""
