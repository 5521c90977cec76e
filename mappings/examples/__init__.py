"""Example per-customer mapping modules, one per kind of change ops make.

Each extends `mappings.default` in a few lines; copy the one closest to what
a customer needs into `mappings/<customer>.py`, edit, check it with
`python -m gateway.mapping.check mappings.<customer> SAMPLE.json`, then name
it for the org in config.toml. See docs/MAPPINGS.md.
"""
