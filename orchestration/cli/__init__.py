"""The `oliai` command line: the layer that wires the stack, the stores and the client together."""
