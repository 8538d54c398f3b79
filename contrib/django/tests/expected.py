"""What the test project declares, as httpat should see it: endpoint name → route."""

EXPECTED_ROUTES = {
    "ims.release-roll": "ims/rolls/{roll}/release/",
    "ims.seal-roll": "ims/rolls/{roll}/seal/",
    "ims.lines.seal-batch": "ims/lines/{line}/batches/{batch}/seal/",
    "ims.print-label": "ims/labels/{label}/print/",
    "ims.export": "ims/exports/{folder}",
    "weigh-roll": "api/{version}/rolls/{roll}/weigh/",
    "ping": "health/ping/",
}
