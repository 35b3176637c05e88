# A small stand-in for nixpkgs' `lib`, just enough to evaluate the option declarations of our
# NixOS modules offline (there is no nixpkgs on the CI machine). Options and types become plain
# attribute sets the test can inspect; nothing here merges or type-checks definitions.
rec {
  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption =
    name:
    mkOption {
      type = types.bool;
      default = false;
      description = "Whether to enable ${name}.";
    };
  literalExpression = text: {
    _type = "literalExpression";
    inherit text;
  };

  mkIf = condition: content: {
    _type = "if";
    inherit condition content;
  };
  mkMerge = contents: {
    _type = "merge";
    inherit contents;
  };
  mkOverride = priority: content: {
    _type = "override";
    inherit priority content;
  };
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;
  optionalAttrs = cond: attrs: if cond then attrs else { };
  escapeShellArg = s: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] s}'";
  escapeShellArgs = args: builtins.concatStringsSep " " (map escapeShellArg args);

  types =
    let
      simple = name: { inherit name; };
    in
    {
      bool = simple "bool";
      str = simple "str";
      float = simple "float";
      port = simple "port";
      package = simple "package";
      deferredModule = simple "deferredModule";
      ints = {
        between = lo: hi: {
          name = "intBetween";
          inherit lo hi;
        };
        positive = simple "positiveInt";
        unsigned = simple "unsignedInt";
      };
      strMatching = regex: {
        name = "strMatching";
        inherit regex;
      };
      enum = values: {
        name = "enum";
        inherit values;
      };
      nullOr = elemType: {
        name = "nullOr";
        inherit elemType;
      };
      listOf = elemType: {
        name = "listOf";
        inherit elemType;
      };
      attrsOf = elemType: {
        name = "attrsOf";
        inherit elemType;
      };
      submodule = module: {
        name = "submodule";
        inherit module;
      };
      either = left: right: {
        name = "either";
        inherit left right;
      };
    };
}
