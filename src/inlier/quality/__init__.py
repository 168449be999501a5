"""Quality: signals stored as events, scores with credible intervals, standing and appeals."""
