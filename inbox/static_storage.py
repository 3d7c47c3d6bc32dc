from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Production static files: hashed names, compressed, and hashed ES module imports too
    (the agent UI is native modules; static/js/inbox/ must stay free of import cycles), so a
    deploy never mixes old and new modules. Each pass of the post-processing resolves one
    more level of imports: the passes allowed must exceed the deepest import chain
    (app.js → thread.js → header.js → rules.js → templates.js → dom.js, and growing)."""

    support_js_module_import_aggregation = True
    max_post_process_passes = 12
