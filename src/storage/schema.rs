//! The one diesel schema both backends share. Column types are chosen from
//! the intersection SQLite and PostgreSQL agree on (BigInt, Text, Bool,
//! Timestamp, Binary); `tests/schema_parity.rs` checks both migration sets
//! produce these columns.

diesel::table! {
    meta (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    categories (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
        requires_approval -> Bool,
    }
}

diesel::table! {
    staff_test_recipients (id) {
        id -> BigInt,
        staff_user_id -> BigInt,
        subscriber_id -> BigInt,
        code_hash -> Nullable<Binary>,
        confirmed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reply_templates (id) {
        id -> BigInt,
        name -> Text,
        body -> Text,
        updated_by -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    drafts (id) {
        id -> BigInt,
        author -> Text,
        category -> Text,
        title -> Text,
        body -> Text,
        urgent -> Bool,
        schedule -> Text,
        event_start -> Text,
        event_end -> Text,
        event_location -> Text,
        corrects_id -> Nullable<BigInt>,
        replaces_id -> Nullable<BigInt>,
        image_mime -> Nullable<Text>,
        image_data -> Nullable<Binary>,
        image_alt -> Text,
        state -> Text,
        submitted_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    announcements (id) {
        id -> BigInt,
        category_id -> BigInt,
        title -> Text,
        body -> Text,
        urgent -> Bool,
        publish_at -> Timestamp,
        created_at -> Timestamp,
        cancelled_at -> Nullable<Timestamp>,
        corrects_id -> Nullable<BigInt>,
        author -> Text,
        digest_id -> Nullable<BigInt>,
        event_start -> Nullable<Timestamp>,
        event_end -> Nullable<Timestamp>,
        event_all_day -> Bool,
        event_location -> Nullable<Text>,
        image_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    media (id) {
        id -> BigInt,
        mime_type -> Text,
        byte_length -> BigInt,
        sha256 -> Text,
        bytes -> Binary,
        alt_text -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    digests (id) {
        id -> BigInt,
        category_id -> BigInt,
        local_time -> Text,
        timezone -> Text,
        title -> Text,
        next_run_at -> Timestamp,
        last_run_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    subscribers (id) {
        id -> BigInt,
        channel -> Text,
        address_ciphertext -> Nullable<Binary>,
        address_hmac -> Nullable<Binary>,
        pseudonym -> Nullable<Text>,
        locale -> Text,
        status -> Text,
        created_at -> Timestamp,
        confirmed_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        bounces -> Integer,
        last_bounce_at -> Nullable<Timestamp>,
        last_inbound_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subscriptions (subscriber_id, category_id) {
        subscriber_id -> BigInt,
        category_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    consent_events (id) {
        id -> BigInt,
        subscriber_id -> Nullable<BigInt>,
        pseudonym -> Nullable<Text>,
        channel -> Text,
        kind -> Text,
        categories -> Text,
        wording_version -> Text,
        occurred_at -> Timestamp,
        evidence -> Nullable<Text>,
    }
}

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        announcement_id -> BigInt,
        channel -> Text,
        subscriber_id -> Nullable<BigInt>,
        target -> Nullable<Text>,
        state -> Text,
        attempts -> Integer,
        provider_message_id -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        broadcast_id -> Nullable<BigInt>,
        priority -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    broadcasts (id) {
        id -> BigInt,
        announcement_id -> BigInt,
        category_id -> BigInt,
        channel -> Text,
        priority -> Integer,
        state -> Text,
        not_before -> Timestamp,
        fanout_cursor -> BigInt,
        fanout_done -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    fanout_leases (id) {
        id -> BigInt,
        broadcast_id -> BigInt,
        after_subscriber -> BigInt,
        through_subscriber -> BigInt,
        size -> Integer,
        owner -> Text,
        lease_until -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    channel_limits (channel) {
        channel -> Text,
        tokens -> Double,
        refilled_at -> Timestamp,
        paused_until -> Nullable<Timestamp>,
        held_reason -> Nullable<Text>,
    }
}

diesel::table! {
    conversations (id) {
        id -> BigInt,
        subscriber_id -> Nullable<BigInt>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        conversation_id -> BigInt,
        direction -> Text,
        text_ciphertext -> Nullable<Binary>,
        media_ref -> Nullable<Text>,
        provider_message_id -> Nullable<Text>,
        staff_user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    staff_users (id) {
        id -> BigInt,
        username -> Text,
        display_name -> Text,
        role -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        actor -> Text,
        action -> Text,
        subject -> Text,
        details -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    websub_subscriptions (id) {
        id -> BigInt,
        topic -> Text,
        callback -> Text,
        secret_ciphertext -> Nullable<Binary>,
        content_mark -> Text,
        expires_at -> Timestamp,
        failures -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    websub_deliveries (id) {
        id -> BigInt,
        subscription_id -> BigInt,
        generation -> BigInt,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    subscriber_tokens (id) {
        id -> BigInt,
        subscriber_id -> BigInt,
        purpose -> Text,
        token_hash -> Binary,
        token_ciphertext -> Nullable<Binary>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        used_at -> Nullable<Timestamp>,
        mailed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    inbound_events (id) {
        id -> BigInt,
        channel -> Text,
        dedupe_key -> Text,
        payload -> Binary,
        received_at -> Timestamp,
        state -> Text,
        attempts -> Integer,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        processed_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
        error -> Nullable<Text>,
        sender -> Nullable<Binary>,
    }
}

diesel::joinable!(announcements -> categories (category_id));
diesel::joinable!(announcements -> media (image_id));
diesel::joinable!(subscriptions -> subscribers (subscriber_id));
diesel::joinable!(subscriptions -> categories (category_id));
diesel::joinable!(messages -> conversations (conversation_id));
diesel::joinable!(broadcasts -> announcements (announcement_id));
diesel::joinable!(deliveries -> broadcasts (broadcast_id));
diesel::table! {
    outbox (id) {
        id -> BigInt,
        channel -> Text,
        subscriber_id -> Nullable<BigInt>,
        address_ciphertext -> Nullable<Binary>,
        text_ciphertext -> Nullable<Binary>,
        locale -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        wait_settled -> Bool,
        erase_after -> Bool,
        provider_message_id -> Nullable<Text>,
        error -> Nullable<Text>,
        source -> Nullable<Text>,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    conversation_photos (id) {
        id -> BigInt,
        message_id -> BigInt,
        mime_type -> Text,
        byte_length -> BigInt,
        sha256 -> Text,
        width -> BigInt,
        height -> BigInt,
        ciphertext -> Binary,
        created_at -> Timestamp,
    }
}

diesel::joinable!(conversation_photos -> messages (message_id));

diesel::table! {
    inbound_cursors (channel) {
        channel -> Text,
        cursor -> Nullable<Text>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(fanout_leases -> broadcasts (broadcast_id));
diesel::joinable!(outbox -> subscribers (subscriber_id));
diesel::joinable!(websub_deliveries -> websub_subscriptions (subscription_id));
diesel::joinable!(subscriber_tokens -> subscribers (subscriber_id));

diesel::table! {
    manual_posts (announcement_id, channel) {
        announcement_id -> BigInt,
        channel -> Text,
        created_at -> Timestamp,
        posted_at -> Nullable<Timestamp>,
        posted_by -> Nullable<Text>,
    }
}

diesel::joinable!(manual_posts -> announcements (announcement_id));

diesel::table! {
    staff_sessions (id) {
        id -> BigInt,
        token_hash -> Binary,
        staff_user_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
    }
}

diesel::table! {
    staff_devices (id) {
        id -> BigInt,
        token_hash -> Binary,
        staff_user_id -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        scope -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::joinable!(staff_sessions -> staff_users (staff_user_id));

diesel::table! {
    public_version (id) {
        id -> BigInt,
        version -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    public_version,
    meta,
    drafts,
    reply_templates,
    staff_test_recipients,
    manual_posts,
    categories,
    announcements,
    subscribers,
    subscriptions,
    consent_events,
    deliveries,
    conversations,
    messages,
    staff_users,
    audit_events,
    broadcasts,
    channel_limits,
    digests,
    fanout_leases,
    outbox,
    websub_subscriptions,
    websub_deliveries,
    subscriber_tokens,
    media,
    inbound_events,
    conversation_photos,
    inbound_cursors,
    staff_sessions,
    staff_devices,
    login_failures,
);
