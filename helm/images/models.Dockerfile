# An image that carries a model repository for the chart's model-copy init container
# (models.image): the context's content ends up under /models, and busybox provides the `cp`
# the init container runs. For the demo models, from the repository root:
#
#   docker build -t hybridge/demo-models:0.1.0 -f helm/images/models.Dockerfile models/demo/repository
#
# which gives /models/cloud/{digits-cloud,digits-head} and /models/edge/digits-edge, the
# chart's default models.folders. Pinned by tag only: add the digest you pull.
FROM busybox:1.37.0
COPY . /models/
USER 10001:10001
