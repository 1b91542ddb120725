"""The plant as typed data, and the pure checks over it."""
