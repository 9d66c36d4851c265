# Bakes an Amazon Linux 2023 image and refuses it when egress-probe's bake spec fails.
#
#   packer init . && packer build -var subnet_id=subnet-0123 -var rpm=../../target/generate-rpm/egress-probe-0.1.0-1.x86_64.rpm .
#
# The shell provisioner installs the package, runs the check with bake-spec.toml and exits
# with egress-probe's code: 1 (a failing finding or expectation) fails the build, as do 2 (bad
# spec or flag) and 3 (could not run). The JUnit file comes back to the build machine either
# way (the error-cleanup provisioner fetches it when the build fails) for the CI dashboard.
# Build in the subnet whose egress you want to check: it is the instance's path that counts.

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
  }
}

variable "region" {
  type    = string
  default = "us-west-2"
}

variable "subnet_id" {
  type        = string
  description = "A private subnet behind the VPC endpoints the image will use."
}

variable "rpm" {
  type        = string
  description = "The egress-probe .rpm built by cargo generate-rpm."
}

variable "junit" {
  type    = string
  default = "egress-probe-junit.xml"
}

source "amazon-ebs" "al2023" {
  region        = var.region
  subnet_id     = var.subnet_id
  instance_type = "t3.micro"
  ssh_username  = "ec2-user"
  ami_name      = "app-base-{{timestamp}}"
  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-x86_64"
      virtualization-type = "hvm"
    }
    owners      = ["amazon"]
    most_recent = true
  }
  # Packer reaches the instance over SSM, so a private subnet needs no inbound rule.
  communicator         = "ssh"
  ssh_interface        = "session_manager"
  iam_instance_profile = "packer-ssm"
}

build {
  sources = ["source.amazon-ebs.al2023"]

  provisioner "file" {
    sources     = [var.rpm, "bake-spec.toml"]
    destination = "/tmp/"
  }

  provisioner "shell" {
    script           = "provision.sh"
    environment_vars = ["RPM=/tmp/${basename(var.rpm)}", "SPEC=/tmp/bake-spec.toml"]
    execute_command  = "chmod +x {{ .Path }}; sudo {{ .Vars }} {{ .Path }}"
    # Only 0 passes: 1 is a failing finding or expectation.
    valid_exit_codes = [0]
  }

  provisioner "file" {
    direction   = "download"
    source      = "/var/lib/egress-probe/bake-junit.xml"
    destination = var.junit
  }

  error-cleanup-provisioner "file" {
    direction   = "download"
    source      = "/var/lib/egress-probe/bake-junit.xml"
    destination = var.junit
  }
}
