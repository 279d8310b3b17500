"""Answer members' questions from the knowledge base with verified citations, and serve the web page."""
