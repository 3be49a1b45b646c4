"""The LibCST side of the rewrite: applying a planned layout to the entry's tree.

The decisions are made on ``ast`` by ``rewriter.plan``; ``assemble`` only
moves original lines, wraps them and inserts the rendered blocks.
"""
