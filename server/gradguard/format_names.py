"""The names of the report formats, apart from their formatters: the command line
lists them without importing every formatter (``gradguard server`` starts faster)."""

FORMAT_NAMES = (
    "concise",
    "text",
    "full",
    "json",
    "json-lines",
    "junit",
    "gitlab",
    "sarif",
    "github",
)
