# quantdesk in a container: `docker build -t quantdesk .` then
# `docker run -it --rm -v quantdesk-data:/data quantdesk` opens the console
# (simulated market, paper account, ArcticDB on LMDB under /data).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    TERM=xterm-256color \
    COLORTERM=truecolor \
    QUANTDESK_DATA_DIR=/data

RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin trader \
    && mkdir /data && chown trader:trader /data

WORKDIR /opt/quantdesk
COPY pyproject.toml README.md config.toml ./
COPY console ./console
COPY panes ./panes
COPY services ./services
COPY strategies ./strategies
RUN pip install . && rm -rf /root/.cache

USER trader
VOLUME ["/data"]
ENTRYPOINT ["quantdesk"]
