# The NixOS module's assertions, as { assertion, message } lists; every message names the option
# and the fix. Builtins only (CI evaluates them with plain nix-instantiate).
#
#   instanceChecks { cfg, prefix }: one instance's options (the single instance's, prefix
#     "services.runner-controller", or instances.NAME's).
#   hostChecks { cfg, stateVersion }: what the host needs whatever runs (NAT, stateVersion).
#   acrossChecks entries: between the enabled instances, entries = [ { prefix; cfg; } ... ]:
#     overlapping CONTAINER_SUBNETS, a port, STATE_DIR or runner name prefix used twice.
#   checks { cfg, stateVersion }: the single instance's and the host's (as before instances).
let
  inherit (builtins)
    all
    compareVersions
    concatLists
    elemAt
    filter
    genList
    length
    match
    split
    stringLength
    substring
    ;
  subnets = import ./subnets.nix;
  matches = re: s: match re s != null;
  inRange = lo: hi: v: v >= lo && v <= hi;
  absolutePlain = p: matches "/[A-Za-z0-9._+/-]*" p && !(matches ".*(^|/)\\.\\.(/.*|$)" p);
  outsideStore = p: matches "/.*" p && substring 0 11 p != "/nix/store/";
  flagOk = matches "--[a-z][a-z0-9-]*(=[A-Za-z0-9_@%+=:,./-]*)?";
  # Every unordered pair of a list, as [ a b ].
  pairs =
    xs:
    concatLists (
      genList (i: genList (j: [ (elemAt xs i) (elemAt xs (i + j + 1)) ]) (length xs - i - 1)) (length xs)
    );
in
rec {
  checks =
    { cfg, stateVersion }:
    instanceChecks {
      inherit cfg;
      prefix = "services.runner-controller";
    }
    ++ hostChecks { inherit cfg stateVersion; };

  instanceChecks =
    { cfg, prefix }:
    let
      o = name: "${prefix}.${name}";
      c = cfg.container;
      repoParts = split "/" cfg.repo;
      repoName = if length repoParts == 3 then elemAt repoParts 2 else "";
      app = cfg.app;
      appSet = app.id != null || app.privateKeyFile != null;
    in
    [
      {
        assertion = !cfg.webhook.enable || cfg.webhook.secretFile != null;
        message = "${o "webhook.secretFile"} must be set when ${o "webhook.enable"} is true: the file holding the webhook's secret (one secret a line).";
      }
      {
        assertion = (cfg.repo == null) != (cfg.org == null);
        message = ''Set exactly one of ${o "repo"} (a repository, "owner/repo") and ${o "org"} (an organization): GITHUB_REPO and GITHUB_ORG exclude each other.'';
      }
      {
        assertion =
          cfg.repo == null
          || (matches "[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}" cfg.repo && repoName != "." && repoName != "..");
        message = ''${o "repo"} = "${toString cfg.repo}" is not a repository of the form owner/repo; set it like "octo-org/octo-repo".'';
      }
      {
        assertion = cfg.org == null || matches "[A-Za-z0-9][A-Za-z0-9-]{0,38}" cfg.org;
        message = ''${o "org"} = "${toString cfg.org}" is not an organization name; set it like "octo-org".'';
      }
      {
        assertion =
          cfg.repos == [ "*" ]
          || (cfg.repos != [ ] && all (r: matches "[A-Za-z0-9._-]{1,100}" r && r != "." && r != ".." && r != "*") cfg.repos);
        message = ''${o "repos"}: with ${o "org"}, the repositories to poll: bare names (no owner), or [ "*" ] (the default) for every repository of the organization.'';
      }
      {
        assertion = matches "[^[:cntrl:]]{1,200}" cfg.runnerGroup;
        message = "${o "runnerGroup"} must be a runner group's name (1-200 characters, as GitHub shows it).";
      }
      {
        assertion = (cfg.tokenFile == null) == appSet && (!appSet || (app.id != null && app.privateKeyFile != null));
        message = "Authenticate with exactly one of ${o "tokenFile"} (a token) and ${o "app.id"} with ${o "app.privateKeyFile"} (a GitHub App; app.installationId optional): GITHUB_TOKEN_FILE and GITHUB_APP_ID/GITHUB_APP_PRIVATE_KEY_FILE exclude each other, and the App needs both.";
      }
      {
        assertion = cfg.tokenFile == null || outsideStore cfg.tokenFile;
        message = ''${o "tokenFile"} = "${toString cfg.tokenFile}" must be an absolute path outside the Nix store (the store is readable by every user); use a secret manager's path, e.g. config.age.secrets.github-runner-token.path (agenix) or config.sops.secrets."github-runner/token".path (sops-nix).'';
      }
      {
        assertion = app.privateKeyFile == null || outsideStore app.privateKeyFile;
        message = ''${o "app.privateKeyFile"} = "${toString app.privateKeyFile}" must be an absolute path outside the Nix store (the store is readable by every user); use agenix or sops-nix.'';
      }
      {
        assertion =
          (app.id == null || inRange 1 999999999999999 app.id)
          && (app.installationId == null || inRange 1 999999999999999 app.installationId);
        message = "${o "app.id"} and ${o "app.installationId"} must be positive numbers (as GitHub shows them).";
      }
      {
        assertion = inRange 10 5000 cfg.pollBudget;
        message = "${o "pollBudget"} must be from 10 to 5000 requests a minute (GitHub's secondary limit is about 900 points a minute).";
      }
      {
        assertion = cfg.labels != [ ] && all (l: matches "[^,[:cntrl:]]+" l && stringLength l <= 256) cfg.labels;
        message = "${o "labels"} must hold at least one label, each without commas or control characters and at most 256 characters long.";
      }
      {
        assertion = inRange 1 100 cfg.maxConcurrent && inRange 1 100 cfg.createConcurrency;
        message = "${o "maxConcurrent"} and ${o "createConcurrency"} must be from 1 to 100.";
      }
      {
        assertion = subnets.parse cfg.containerSubnets != null;
        message = ''${o "containerSubnets"} = "${cfg.containerSubnets}" is not a range of /24 networks; write it like "192.168.100.0/24-192.168.199.0/24" (first to last inclusive, first <= last).'';
      }
      {
        assertion = subnets.parse cfg.containerSubnets == null || cfg.maxConcurrent <= subnets.count cfg.containerSubnets;
        message = "${o "maxConcurrent"} = ${toString cfg.maxConcurrent} is more than the ${toString (subnets.count cfg.containerSubnets)} /24 networks of ${o "containerSubnets"} (${cfg.containerSubnets}): each container needs one; widen the range or lower maxConcurrent.";
      }
      {
        assertion = inRange 0 cfg.maxConcurrent cfg.pool.minIdle;
        message = "${o "pool.minIdle"} = ${toString cfg.pool.minIdle} must be from 0 to ${o "maxConcurrent"} (${toString cfg.maxConcurrent}): pool and busy containers together never exceed maxConcurrent.";
      }
      {
        assertion = inRange 60 (30 * 86400) cfg.pool.maxAge;
        message = "${o "pool.maxAge"} must be from 60 seconds to 30 days.";
      }
    ]
    ++ map (e: {
      assertion = inRange 0 cfg.maxConcurrent e.minIdle && matches "[^[:cntrl:]]+" e.onCalendar;
      message = ''${o "pool.schedule"}: the entry { onCalendar = "${e.onCalendar}"; minIdle = ${toString e.minIdle}; } needs a minIdle from 0 to ${o "maxConcurrent"} (${toString cfg.maxConcurrent}) and a calendar event on one line.'';
    }) cfg.pool.schedule
    ++ [
      {
        assertion =
          inRange 0.05 3600 cfg.pollInterval
          && inRange 0.05 (30 * 86400) cfg.jobTimeout
          && inRange 0.05 86400 cfg.startupTimeout
          && inRange 0.05 86400 cfg.idleTimeout
          && inRange 0.05 600 cfg.githubRequestTimeout
          && inRange 0 60 cfg.githubWriteInterval;
        message = "${o "pollInterval"} (0.05–3600 s), jobTimeout (up to 30 days), startupTimeout and idleTimeout (up to 1 day), githubRequestTimeout (up to 600 s) and githubWriteInterval (0–60 s) must be within their ranges.";
      }
      {
        assertion = cfg.backend != "process" || cfg.runnerCommand != null;
        message = ''${o "backend"} = "process" needs ${o "runnerCommand"} (the runner executable, e.g. the official runner's run.sh).'';
      }
      {
        assertion = cfg.backend != "nspawn" || cfg.container.system != null;
        message = ''${o "backend"} = "nspawn" boots the prebuilt container system: leave ${o "container.system"} at its default (or give a system), not null.'';
      }
      {
        assertion = cfg.runnerCommand == null || absolutePlain cfg.runnerCommand;
        message = "${o "runnerCommand"} must be an absolute path to an executable.";
      }
      {
        assertion = cfg.runnerNamePrefix == null || matches "[A-Za-z0-9][A-Za-z0-9._-]{0,49}" cfg.runnerNamePrefix;
        message = "${o "runnerNamePrefix"} must be 1-50 letters, digits, '.', '_' or '-', starting with a letter or digit.";
      }
      {
        assertion = absolutePlain cfg.stateDir;
        message = "${o "stateDir"} must be an absolute path of plain characters (letters, digits, . _ + - /).";
      }
      {
        assertion = matches "[A-Za-z0-9.:-]{1,253}" cfg.httpHost;
        message = ''${o "httpHost"} must be an IP address or host name, e.g. "127.0.0.1" (default) or "0.0.0.0".'';
      }
      {
        assertion = matches "https?://[^[:space:]?#@]+" cfg.githubApiUrl;
        message = ''${o "githubApiUrl"} must be an http(s) URL without credentials, query or fragment, e.g. "https://api.github.com" or "https://ghes.example.com/api/v3".'';
      }
      {
        assertion = absolutePlain c.template;
        message = "${o "container.template"} must be an absolute path of plain characters: nixos-container splices it into Nix code.";
      }
      {
        assertion = c.nixosPath == null || absolutePlain (toString c.nixosPath);
        message = "${o "container.nixosPath"} must be an absolute path of plain characters (a nixpkgs checkout's nixos directory), or null.";
      }
      {
        assertion = c.cpuQuota == null || matches "[1-9][0-9]{0,5}%" c.cpuQuota;
        message = ''${o "container.cpuQuota"} must be a percentage of one CPU such as "400%" (four CPUs), or null for no limit.'';
      }
      {
        assertion = c.memoryMax == null || matches "[1-9][0-9]{0,15}[KMGT]?|[1-9][0-9]?%|100%" c.memoryMax;
        message = ''${o "container.memoryMax"} must be a size such as "8G" or "512M", a percentage such as "25%", or null for no limit.'';
      }
      {
        assertion = c.tasksMax == null || inRange 1 9999999 c.tasksMax;
        message = "${o "container.tasksMax"} must be from 1 to 9999999, or null for no limit.";
      }
      {
        assertion = inRange 1 3600 c.startTimeout;
        message = "${o "container.startTimeout"} must be from 1 to 3600 seconds.";
      }
      {
        assertion = all flagOk c.extraNspawnFlags;
        message = "${o "container.extraNspawnFlags"}: each flag must be --name or --name=value without spaces, quotes or $ (the container unit splits the list on whitespace).";
      }
    ];

  hostChecks =
    { cfg, stateVersion }:
    let
      o = name: "services.runner-controller.${name}";
    in
    [
      {
        assertion = !cfg.nat.enable || cfg.nat.externalInterface != null;
        message = ''${o "nat.externalInterface"} is not set: job containers reach GitHub through NAT on the host's uplink; set it (e.g. "eth0"), or set ${o "nat.enable"} = false if you route the containers' subnets (containerSubnets) yourself.'';
      }
      {
        assertion = compareVersions stateVersion "22.05" >= 0;
        message = "services.runner-controller needs system.stateVersion >= 22.05: older hosts keep imperative containers in /etc/containers and /var/lib/containers, where the controller does not look.";
      }
    ];

  # The ports an instance listens on (the webhook listener only when webhook mode is on).
  portsOf = cfg: [ cfg.httpPort ] ++ (if cfg.webhook.enable then [ cfg.webhook.port ] else [ ]);

  acrossChecks =
    entries:
    let
      clash =
        what: f: pair:
        let
          a = elemAt pair 0;
          b = elemAt pair 1;
        in
        {
          assertion = !(f a.cfg b.cfg);
          message = what a b;
        };
      shared = xs: ys: filter (x: builtins.elem x ys) xs;
      effectivePrefix = cfg: if cfg.runnerNamePrefix == null then "(the host name)" else cfg.runnerNamePrefix;
      onePair = pair: [
        (clash (
          a: b:
          "${a.prefix}.containerSubnets (${a.cfg.containerSubnets}) and ${b.prefix}.containerSubnets (${b.cfg.containerSubnets}) overlap: each instance needs /24 networks of its own; give them disjoint ranges."
        ) (x: y: subnets.overlap x.containerSubnets y.containerSubnets) pair)
        (clash (
          a: b:
          "${a.prefix} and ${b.prefix} both listen on port ${toString (builtins.head (shared (portsOf a.cfg) (portsOf b.cfg)))} (httpPort / webhook.port): give each instance ports of its own."
        ) (x: y: shared (portsOf x) (portsOf y) != [ ]) pair)
        (clash (
          a: b:
          "${a.prefix}.stateDir and ${b.prefix}.stateDir are both ${a.cfg.stateDir}: each instance needs a STATE_DIR (state, lock, control socket, container markers) of its own."
        ) (x: y: x.stateDir == y.stateDir) pair)
        (clash (
          a: b:
          "${a.prefix}.runnerNamePrefix and ${b.prefix}.runnerNamePrefix are both ${effectivePrefix a.cfg}: an instance removes every runner of its prefix it does not know, so each needs its own."
        ) (x: y: x.runnerNamePrefix == y.runnerNamePrefix) pair)
      ];
    in
    concatLists (map onePair (pairs entries))
    ++ map (e: {
      assertion = builtins.length (portsOf e.cfg) == 1 || e.cfg.httpPort != e.cfg.webhook.port;
      message = "${e.prefix}.httpPort and ${e.prefix}.webhook.port are both ${toString e.cfg.httpPort}: the status API and the webhook listener need ports of their own.";
    }) entries;
}
