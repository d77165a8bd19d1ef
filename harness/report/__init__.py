"""Report writers: rendering only, no computation. Every file is written atomically."""
