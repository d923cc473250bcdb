# Faultline's demo httpbin as a container target, in an empty image (nothing
# is pulled: scratch is built in). The context holds the static binary; see
# scripts/build-image.sh.
FROM scratch
COPY faultline /faultline
EXPOSE 8080
ENTRYPOINT ["/faultline"]
CMD ["demo", "httpbin", "--listen", "0.0.0.0:8080"]
