"""Small byte-level language models whose measured bits per byte set product quality.

Importing this package (and `corpus`, `grid`, `fit`, `lookup`, `zoo`) never imports torch;
training and sampling import it lazily.
"""
