"""Touchpoint's in-store inputs: the Kivy touchscreen app and the gpiozero smiley button panel."""
