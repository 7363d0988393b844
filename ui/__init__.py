"""Everything the NiceGUI server serves: the frame, the pages, and the JSON API."""
