"""The HTTP API: `python -m alpr serve`, a self-hosted endpoint for Plate Recognizer-, OpenALPR- and
CodeProject.AI-compatible integrations (Home Assistant, Frigate, Blue Iris, gate scripts). See docs/api.md.

    settings.py   ServerConfig: every limit of the server, with why its default
    auth.py       who may call the API, and who may write in the Streamlit app
    responses.py  a Recognition as Plate Recognizer's Snapshot JSON and CodeProject.AI's ALPR answer;
                  request fields to our options
    metrics.py    Prometheus text counters and histograms
    server.py     the FastAPI application
    cli.py        the `serve` command
    links.py      the Recognize page's line about the API

Nothing here imports TensorFlow or Streamlit at import time, so `python -m alpr serve --help` is quick.
"""
