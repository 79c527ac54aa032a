"""Deployment to AWS: the CloudFormation stack, its outputs as settings, the Beanstalk bundle."""
