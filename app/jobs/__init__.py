"""The bounded job queue and the stores behind the server: uploaded images, finished jobs."""
