"""The web page: layout (the Blocks and their events), handlers, admin, render (HTML), messages (Chinese), static/."""
