from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Production static files: hashed names, compressed, and hashed ES module imports too
    (the agent UI is native modules; static/js/inbox/ must stay free of import cycles), so a
    deploy never mixes old and new modules."""

    support_js_module_import_aggregation = True
