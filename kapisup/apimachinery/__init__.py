"""Object machinery with no HTTP and no storage: errors, schemas, selectors, patches, codecs."""
