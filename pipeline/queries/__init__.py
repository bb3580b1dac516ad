"""The operator API's pure part: parameters, invoice views, pending pages and summaries.

No faust, no HTTP here: :mod:`pipeline.worker.api` serves these over faust's web server, and
:mod:`pipeline.queries.client` is the command line's side of the same API.
"""
