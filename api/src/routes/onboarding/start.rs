//! `POST /v1/tenants/{tenant_id}/onboarding`

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use logspoke_contract::{DeliveryType, Region, TenantId};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use validator::Validate;

use crate::audit::RequestId;
use crate::auth::Principal;
use crate::configs::repository;
use crate::error::{ApiError, Problem};
use crate::extract::{parse_optional_object, validate};
use crate::onboarding::destination::{NewBucket, NewLogGroup};
use crate::onboarding::{destination, external_id, link};
use crate::openapi::fields;
use crate::paths::TenantPath;
use crate::routes::tenants;
use crate::state::AppState;
use crate::store::StoreError;
use crate::unit_of_work::WriteTx;

/// Body of an onboarding request (optional: no body or `null` means every default).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct OnboardingRequest {
    /// Region whose CloudFormation console the link opens: the stack's region. The
    /// role's CloudWatch permissions are scoped to it, so it must be the CloudWatch
    /// config's `target_region`; defaults to the configured target's region.
    #[schema(schema_with = fields::stack_region)]
    pub region: Option<String>,
    /// Which targets the role should be allowed to write (at least one); defaults to the
    /// tenant's configured types, or both when it has none.
    #[schema(schema_with = delivery_types_schema)]
    #[validate(length(min = 1, message = "must name at least one type"))]
    pub delivery_types: Option<Vec<DeliveryType>>,
    /// Have the stack create the log group (the CloudWatch config's `log_group_name`, or
    /// `/logspoke/{tenant_id}` without one), so that the customer need not create it
    /// first; it is kept when the stack is deleted. Implies `cloudwatch` among
    /// `delivery_types`. Absent or `null`: the log group must exist.
    pub create_log_group: Option<CreateLogGroup>,
    /// Have the stack create the bucket (the S3 config's `bucket_name`: the tenant must
    /// have an S3 config, in the stack's region, or the answer is 409): private,
    /// encrypted, kept when the stack is deleted. Implies `s3` among `delivery_types`.
    /// Absent or `null`: the bucket must exist.
    pub create_bucket: Option<CreateBucket>,
}

/// Settings of the log group the stack creates; each left out takes the template's
/// default. Its KMS key, if any, is chosen in the console (`LogGroupKmsKeyArn`).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLogGroup {
    /// How many days the log group keeps events: one of CloudWatch Logs' retention
    /// values, or 0 to never expire them. Default 30.
    #[schema(schema_with = retention_days_schema)]
    pub retention_days: Option<u32>,
}

/// Settings of the bucket the stack creates; each left out takes the template's
/// default. Its KMS key, if any, is chosen in the console (`BucketKmsKeyArn`).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBucket {
    /// Delete delivered objects this many days after they were written; 0 (the
    /// default) keeps them.
    #[schema(schema_with = expiration_days_schema)]
    pub expiration_days: Option<u32>,
}

fn retention_days_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let days = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(destination::RETENTION_DAYS))
        .description(Some(
            "How many days the log group keeps events: one of CloudWatch Logs' retention values, or 0 \
             to never expire them. Default 30.",
        ));
    fields::nullable(days)
}

fn expiration_days_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let days = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(destination::MAX_EXPIRATION_DAYS))
        .description(Some(
            "Delete delivered objects this many days after they were written; 0 (the default) keeps them.",
        ));
    fields::nullable(days)
}

fn delivery_types_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::ArrayBuilder;
    use utoipa::openapi::Ref;
    let types = ArrayBuilder::new()
        .items(Ref::from_schema_name("DeliveryType"))
        .min_items(Some(1))
        .max_items(Some(DeliveryType::ALL.len()))
        .unique_items(true);
    fields::nullable(types)
}

/// What a customer needs to create the delivery role.
#[derive(Debug, Serialize, ToSchema)]
pub struct Onboarding {
    /// The tenant.
    pub tenant_id: String,
    /// The tenant's ExternalId: the role's trust policy must require exactly this value.
    pub external_id: String,
    /// The provider role the customer's role trusts.
    pub provider_role_arn: String,
    /// Where the customer role template is published.
    pub template_url: String,
    /// Suggested stack name.
    pub stack_name: String,
    /// The region of the link.
    pub region: String,
    /// The CloudFormation console quick-create link, every parameter filled in.
    pub quick_create_url: String,
    /// The template parameters the link fills (for `aws cloudformation create-stack`).
    pub parameters: BTreeMap<String, String>,
}

/// Onboard a customer account
///
/// Issues the tenant's ExternalId on the first call (later calls return it unchanged)
/// and returns the CloudFormation quick-create link for the customer's delivery role;
/// the stack may also create the log group and the bucket (`create_log_group`,
/// `create_bucket`).
#[utoipa::path(
    post,
    path = "/v1/tenants/{tenant_id}/onboarding",
    tag = "onboarding",
    params(TenantPath),
    request_body(content = Option<OnboardingRequest>, description = "Optional; every field has a default"),
    responses(
        (status = 200, description = "The ExternalId and the quick-create link", body = Onboarding),
        (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The region conflicts with the tenant's CloudWatch config, or none is \
            given while the tenant has no config to take it from; or create_bucket without an S3 config in \
            the stack's region to name the bucket", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn start_onboarding(
    State(state): State<AppState>,
    principal: Principal,
    request_id: RequestId,
    TenantPath { tenant_id }: TenantPath,
    body: Bytes,
) -> Result<Json<Onboarding>, ApiError> {
    principal.require_tenant_access(&tenant_id)?;
    let body: OnboardingRequest = parse_optional_object(&body)?;
    validate(&body)?;
    let creates = Creates::parse(&body)?;
    let mut write = WriteTx::begin(&state.db, &principal, &request_id).await?;
    tenants::require(write.conn(), &tenant_id, false).await?;
    let (external_id, issued) = external_id::get_or_issue(write.conn(), &tenant_id).await?;
    if issued {
        let after = serde_json::json!({"external_id": "issued (value not recorded)"});
        write
            .audit(&tenant_id, "tenant.external_id_issued", None, Some(after))
            .await?;
    }
    let targets = configured_targets(write.conn(), &tenant_id).await?;
    let region = stack_region(body.region.as_deref(), &targets)?;
    creates.check(&targets, region)?;
    write.commit().await?;
    if issued {
        tracing::info!(tenant_id = %tenant_id, "ExternalId issued");
    }
    let wanted = wanted_types(body.delivery_types, &targets, &creates);
    check_kms_region(&wanted, &targets, region)?;
    let onboarding = &state.onboarding;
    let mut parameters = BTreeMap::from([
        (link::EXTERNAL_ID.to_owned(), external_id.to_string()),
        (
            link::PROVIDER_ROLE_ARN.to_owned(),
            onboarding.provider_role_arn.to_string(),
        ),
    ]);
    parameters.extend(target_parameters(&tenant_id, &wanted, &targets, &creates));
    let stack_name = link::stack_name(&tenant_id);
    let pairs: Vec<(&str, &str)> = parameters.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let quick_create_url =
        link::quick_create_url(region, &onboarding.customer_template_url, &stack_name, &pairs);
    Ok(Json(Onboarding {
        tenant_id: tenant_id.to_string(),
        external_id: external_id.to_string(),
        provider_role_arn: onboarding.provider_role_arn.to_string(),
        template_url: onboarding.customer_template_url.as_str().to_owned(),
        stack_name,
        region: region.as_str().to_owned(),
        quick_create_url,
        parameters,
    }))
}

/// The destinations the request asks the stack to create, with their settings parsed.
#[derive(Debug, Default)]
struct Creates {
    log_group: Option<NewLogGroup>,
    bucket: Option<NewBucket>,
}

impl Creates {
    /// Checks each setting against what the template accepts (422 naming the field).
    fn parse(body: &OnboardingRequest) -> Result<Self, ApiError> {
        let log_group = body
            .create_log_group
            .as_ref()
            .map(|group| NewLogGroup::parse(group.retention_days))
            .transpose()
            .map_err(|e| ApiError::field("create_log_group.retention_days", e))?;
        let bucket = body
            .create_bucket
            .as_ref()
            .map(|bucket| NewBucket::parse(bucket.expiration_days))
            .transpose()
            .map_err(|e| ApiError::field("create_bucket.expiration_days", e))?;
        Ok(Self { log_group, bucket })
    }

    /// A bucket is created under the S3 config's name, in the stack's region: both depend
    /// on the stored config, so a mismatch is a conflict (409), like the region's. (A
    /// log group always has a name, and the CloudWatch config's region is the stack's.)
    fn check(&self, targets: &Targets, region: Region) -> Result<(), ApiError> {
        if self.bucket.is_none() {
            return Ok(());
        }
        match (&targets.bucket_name, targets.bucket_region.as_deref()) {
            (None, _) => Err(ApiError::Conflict(
                "create_bucket: the tenant has no S3 delivery config to name the bucket; put the S3 \
                 config first (its role_arn can be replaced once the stack has created the role)"
                    .into(),
            )),
            (Some(_), Some(configured)) if configured != region.as_str() => Err(ApiError::Conflict(format!(
                "create_bucket: the S3 config targets {configured}, but the stack would create the bucket \
                 in its own region {}; launch the stack in {configured}",
                region.as_str()
            ))),
            _ => Ok(()),
        }
    }
}

/// The target parameters of the link: for each wanted type, its name (and prefix), and
/// what the stack should create.
fn target_parameters(
    tenant_id: &TenantId,
    wanted: &[DeliveryType],
    targets: &Targets,
    creates: &Creates,
) -> Vec<(String, String)> {
    let mut parameters: Vec<(&str, String)> = Vec::new();
    if wanted.contains(&DeliveryType::Cloudwatch) {
        let group = targets
            .log_group_name
            .clone()
            .unwrap_or_else(|| format!("/logspoke/{tenant_id}"));
        parameters.push((link::LOG_GROUP_NAME, group));
        parameters.extend(creates.log_group.iter().flat_map(NewLogGroup::parameters));
    }
    if wanted.contains(&DeliveryType::S3) {
        parameters.push((link::BUCKET_NAME, targets.bucket_name.clone().unwrap_or_default()));
        // The role may write only under the config's prefix (stored normalised, as the
        // template's BucketPrefix pattern expects).
        parameters.push((
            link::BUCKET_PREFIX,
            targets.bucket_prefix.clone().unwrap_or_default(),
        ));
        // Copies encrypted with the config's key need kms:GenerateDataKey on it.
        parameters.push((
            link::BUCKET_KMS_KEY_ARN,
            targets.bucket_kms_key_arn.clone().unwrap_or_default(),
        ));
        parameters.extend(creates.bucket.iter().flat_map(NewBucket::parameters));
    }
    parameters
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// The stack grants the S3 config's KMS key only through S3 of its own region
/// (`kms:ViaService`), and the key is in the config's region: a stack launched elsewhere
/// would give a role that cannot encrypt the copies. A conflict (409), like the region's.
fn check_kms_region(wanted: &[DeliveryType], targets: &Targets, region: Region) -> Result<(), ApiError> {
    let configured = targets.bucket_region.as_deref().unwrap_or(region.as_str());
    if wanted.contains(&DeliveryType::S3)
        && targets.bucket_kms_key_arn.is_some()
        && configured != region.as_str()
    {
        return Err(ApiError::Conflict(format!(
            "the S3 config encrypts its copies with a KMS key in {configured}, which the stack can grant only \
             when it is launched there, not in {}; onboard S3 with its own stack in {configured} \
             (delivery_types [\"s3\"], region {configured})",
            region.as_str()
        )));
    }
    Ok(())
}

/// The targets already configured for the tenant, to pre-fill the link.
#[derive(Debug, Default)]
struct Targets {
    log_group_name: Option<String>,
    log_group_region: Option<String>,
    bucket_name: Option<String>,
    bucket_prefix: Option<String>,
    bucket_kms_key_arn: Option<String>,
    bucket_region: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn configured_targets(conn: &mut PgConnection, tenant_id: &TenantId) -> Result<Targets, StoreError> {
    let mut targets = Targets::default();
    for config in repository::list(conn, tenant_id).await? {
        let region = Some(config.settings.target_region.as_str().to_owned());
        let columns = config.settings.target.columns();
        let owned = |value: Option<&str>| value.map(str::to_owned);
        match config.delivery_type() {
            DeliveryType::Cloudwatch => {
                targets.log_group_name = owned(columns.log_group_name);
                targets.log_group_region = region;
            }
            DeliveryType::S3 => {
                targets.bucket_name = owned(columns.bucket_name);
                targets.bucket_prefix = owned(columns.bucket_prefix);
                targets.bucket_kms_key_arn = config
                    .settings
                    .kms_key_arn
                    .as_ref()
                    .map(|k| k.as_str().to_owned());
                targets.bucket_region = region;
            }
        }
    }
    Ok(targets)
}

/// The stack's region: the requested one, which must match the CloudWatch config's
/// region (the role's log permissions are scoped to the stack's region), or else the
/// configured targets' region.
fn stack_region(requested: Option<&str>, targets: &Targets) -> Result<Region, ApiError> {
    let configured = targets
        .log_group_region
        .as_deref()
        .or(targets.bucket_region.as_deref());
    let raw = requested.or(configured).ok_or_else(|| {
        ApiError::Conflict(
            "region is required while the tenant has no delivery config to take it from".into(),
        )
    })?;
    let region = Region::parse(raw).map_err(|e| ApiError::field("region", e.to_string()))?;
    match &targets.log_group_region {
        Some(cloudwatch) if cloudwatch != region.as_str() => Err(ApiError::Conflict(format!(
            "region: the CloudWatch config targets {cloudwatch}; the role's log permissions are scoped \
             to the stack's region, so launch the stack in {cloudwatch}"
        ))),
        _ => Ok(region),
    }
}

/// The types the role may write: the requested ones, or the configured ones (both when
/// none is configured); and in any case the type of each destination the stack creates.
fn wanted_types(
    requested: Option<Vec<DeliveryType>>,
    targets: &Targets,
    creates: &Creates,
) -> Vec<DeliveryType> {
    let mut types = requested.unwrap_or_else(|| {
        let mut configured = Vec::new();
        if targets.log_group_name.is_some() {
            configured.push(DeliveryType::Cloudwatch);
        }
        if targets.bucket_name.is_some() {
            configured.push(DeliveryType::S3);
        }
        if configured.is_empty() {
            DeliveryType::ALL.to_vec()
        } else {
            configured
        }
    });
    let created = [
        (creates.log_group.is_some(), DeliveryType::Cloudwatch),
        (creates.bucket.is_some(), DeliveryType::S3),
    ];
    for (create, ty) in created {
        if create && !types.contains(&ty) {
            types.push(ty);
        }
    }
    types
}
