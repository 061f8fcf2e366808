"""The operator portal: server-rendered pages for operators and finance teams (docs/portal.md).

An outer layer like `restapi`: it uses the domain only through `apps.<app>.api` and
`apps.<app>.contracts`."""
