"""Generate the CustomResourceDefinitions from the API models (`modelship crds`)."""
