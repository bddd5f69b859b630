"""The Gradio demo of the Dynamic Memory Network: `from app.ui import build_demo`.

The page: `ui` (puts the tabs together, the page's own events, `launch`), one module per tab
(`ask_tab`, `compare_tab`, `sentiment_tab`, `tagging_tab`, `train_tab`, `about_tab`), `registry`
(the checkpoint pickers, told when checkpoints change), `views` (pieces the tabs share), `plots`
(Plotly figures and the coloured story), `playback` (Play the passes), `texts` (the explanations
and the model card), `examples` and `typed_stories` (stories written for the demo, as JSON).

The model side, without UI code: `service` (checkpoints of each tab, cached predictors, one predict
path for every tab, test stories). Training, without UI code: `train_settings` (the settings and
what they train), `limits`, `train_data` (datasets, their files, uploads), `prepare` (a run's data
and command), `jobs` (one run at a time) and `user_checkpoints` (names, installs, zips).
"""
