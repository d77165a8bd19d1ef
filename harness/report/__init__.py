"""Reports: the files a run writes (CSV, HTML, metadata, merged shards) and its terminal text;
data is grouped apart from the markup that shows it, and every file is written atomically."""
