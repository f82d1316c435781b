"""Framework integrations, each imported only when used:

- ``tracker.integration.transformers.TrackerCallback`` (Hugging Face ``Trainer``)
- ``tracker.integration.lightning.TrackerLogger`` (Lightning ``Trainer(logger=...)``)
- ``tracker.integration.keras.TrackerMetricsLogger`` (Keras 3 ``model.fit(callbacks=[...])``)

Nothing here is imported by ``import tracker``.
"""
