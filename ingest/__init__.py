"""Turn training materials (txt, md, docx, pdf, html) into cited chunks in Chroma and a BM25 index."""
