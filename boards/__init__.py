"""Board tops, UART host link and bitstream flows (issue 4). Not built yet."""
