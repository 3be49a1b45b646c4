"""One LibCST step per concern, composed by ``rewriter.core`` in a fixed order:

1. ``sites``: find the module-level import statements (read-only);
2. ``deferred``: turn runtime imports into deferred imports, with their
   handler re-exports and the TYPE_CHECKING mirror;
3. ``init_block``: insert or refresh the init block after the header
   (``header`` decides where the header ends).
"""
