# The single EMMS image: every service's console script (emms-fep, emms-collector, …),
# emms-proto and emms-sim. Kubernetes picks the service by the container's command
# (deploy/k8s/base/<service>/). Non-root (uid 10001), no build tools in the runtime stage.
#   docker build -t emms:dev .
FROM python:3.11-slim AS build
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir 'uv>=0.5'
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/
RUN uv sync --all-packages --locked --no-dev --no-editable --python /usr/local/bin/python3.11 \
    && rm -rf /root/.cache

FROM python:3.11-slim
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin emms
COPY --from=build /src/.venv /opt/emms
ENV PATH=/opt/emms/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001
EXPOSE 8001-8006 9027
CMD ["emms-fep"]
