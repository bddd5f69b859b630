"""The Gradio demo of the Dynamic Memory Network: `from app.ui import build_demo`.

Modules: `service` (checkpoints, cached predictors, asking, test stories; no UI code), `plots`
(Plotly figures and the coloured story), `examples` (curated classroom stories), `texts` (the
explanations and the model card) and `ui` (the Gradio wiring).
"""
